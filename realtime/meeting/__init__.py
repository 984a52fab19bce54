"""The live meeting room over Socket.IO: handlers, presence, ordered broadcast, snapshots."""
