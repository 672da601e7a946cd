-- Classified events with their session id and sequence number (see macro sessionize_events).
-- Sessions are computed from the narrow staged rows with the stitched person, then joined to the
-- classified rows, so the classification is read once and never held whole in memory.
{{ sessionize_events(ref('int_events_classified'), keys_source='(' ~ pc_event_session_keys() ~ ')') }}
