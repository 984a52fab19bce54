"""Shared documents: the in-memory CRDT rooms and the Yjs sync protocol over Socket.IO."""
