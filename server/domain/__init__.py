"""Domain actions: plain async functions over a session and the acting user.

They check permissions, change state, append meeting events and return what must be
broadcast. They never commit (the edge does) and never touch sockets or HTTP.
"""
