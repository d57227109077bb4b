"""Source formats: each parser turns one kind of export or message into normalised events."""
