"""The local OpenAI-compatible server (`lion serve`): scripted or model-backed answers over real HTTP
on 127.0.0.1, with rate limits and injected faults. See app.build_server and process.running_server.

A layer of its own above student and llm: its model backend (model_backend.py, guided_scores.py)
decodes with the student's scripts, and the API client in llm is what talks to it."""
