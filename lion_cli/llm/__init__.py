"""The async OpenAI-compatible API engine (engine.LLMEngine) and the local server (server/)."""
