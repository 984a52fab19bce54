"""The protocol: workflow, mailing, assembler, renderers."""
