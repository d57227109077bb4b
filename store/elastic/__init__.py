"""The Elasticsearch event store: its bulk path, paged search, index mapping, client settings and
the alerts index. Nothing is imported here: ``store.elastic.client`` is read with every config,
and the rest would bring the Elasticsearch client with it."""
