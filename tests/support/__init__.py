"""Test support: real servers on free ports, real clients, data factories."""
