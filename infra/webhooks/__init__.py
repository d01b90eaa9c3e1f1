"""Push delivery of the physician feed: subscriptions, the feed as outbox, the sender."""
