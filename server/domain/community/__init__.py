"""The community layer: profiles, announcements, topics, notifications, overview, search."""
