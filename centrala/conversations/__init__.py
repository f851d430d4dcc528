"""The conversation core: use cases for every channel (DESIGN.md, "Channels behind one interface").

``lifecycle``: open, add a message, reply, close with an outcome, History and ``conversation.*``
events.  ``offers``: offering to agents, accepting, transferring (stored in the database).
Adapters (Socket.IO handlers, HTTP routes, the REST API, the pbx controller) parse input and
call these; channel specifics come from ``centrala.channels``."""
