-- now_ms() -> bigint: the server's now in epoch milliseconds. Every time the backend stores comes from it.
CREATE OR REPLACE FUNCTION now_ms() RETURNS bigint
  LANGUAGE sql STABLE
  AS $$ SELECT floor(extract(epoch FROM now()) * 1000)::bigint $$;
