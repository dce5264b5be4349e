"""The privacy statement's promises: data-subject rights (rights/), retention (retention/), backups
and restore, key rotation, the leak scanner.
"""
