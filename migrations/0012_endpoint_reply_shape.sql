-- Which shape of response_format an endpoint takes a JSON schema in (core/reply_schemas.py ReplyShape):
-- 'json_schema' (OpenAI's), 'json_object+schema' (llama-cpp-python's server), or 'text' when neither
-- worked. Rows probed before this column were asked in the json_schema shape only: an accepted one
-- keeps that shape; a refused one is forgotten, so the next run tries the other shape too.
ALTER TABLE endpoint_capabilities ADD COLUMN reply_shape TEXT
    CHECK (reply_shape IN ('json_schema', 'json_object+schema', 'text'));
UPDATE endpoint_capabilities SET reply_shape = 'json_schema' WHERE structured = 1;
DELETE FROM endpoint_capabilities WHERE structured = 0;
