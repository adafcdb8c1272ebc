"""Code more than one feature uses, and no commands: feature modules import these (and bot/, storage/,
handlers.common), never another feature module."""
