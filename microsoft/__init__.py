"""Microsoft's clouds as Cyberwell signs in to them: credentials and the Graph client.

Collectors read with these, and playbook actions and report evidence will act and read with the
same, so neither has to import the other.
"""
