"""The table each evidence source gets in a week, with the columns of each in ``schemas``."""
