"""The email channel's web side (issue 13): the conversation page and composer, attachment
downloads, the offer presenter (drawer items), Settings / Email and the REST routes."""
