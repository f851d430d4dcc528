"""Channel-neutral web adapters of the conversation core: the REST messages resource and the
live push of a stored message to the screens of a real-time channel."""
