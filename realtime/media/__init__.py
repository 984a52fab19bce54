"""The SFU inside the app process (aiortc, forwarding encoded media without codecs).

See docs/media.md. Private aiortc hooks: realtime/media/hooks.py only.
"""
