"""A speech-to-text server for the lab with the OpenAI audio transcription API."""
