"""Campaign pages: the builder, the campaign list and page, the senders."""
