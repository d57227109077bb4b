"""Sigma rules compiled into each store's query language: DuckDB SQL and Elasticsearch Lucene."""
