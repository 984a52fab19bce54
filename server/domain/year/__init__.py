"""The association's year: plans, preparation, questionnaires and what builds on them."""
