"""The local OpenAI-compatible server (`lion serve`): scripted or model-backed answers over real HTTP
on 127.0.0.1, with rate limits and injected faults. See app.build_server and process.running_server."""
