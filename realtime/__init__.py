"""Realtime transport: Socket.IO handlers, WebRTC signalling and SFU, shared documents."""
