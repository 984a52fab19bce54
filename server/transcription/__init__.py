"""Speech to text: the Whisper engine (faster-whisper on the CPU) and Opus audio decoding."""
