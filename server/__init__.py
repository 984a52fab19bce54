"""SMO Live server: settings, persistence, domain actions, HTTP pages and mail."""
