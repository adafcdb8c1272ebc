"""Invite points (邀请): inviters earn per eligible invitee; an early leave claws the award back."""
