-- Classified events with their session id and sequence number (see macro sessionize_events).
{{ sessionize_events(ref('int_events_classified')) }}
