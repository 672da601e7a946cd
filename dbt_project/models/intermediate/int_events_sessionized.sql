-- Classified events with their session id and sequence number (see macro sessionize_events).
-- A full build of fct_enriched_events runs the same macro with the narrow staged rows as its
-- keys (pc_event_session_keys), so the classification is read once and never held whole in memory;
-- this view is the macro's unit-tested form and a place to inspect sessions.
{{ sessionize_events(ref('int_events_classified')) }}
