"""The web page's demo user: `make demo` creates it in the deployed user pool so that a new user can
sign in at once, and prints its name and password.

The stack's pool takes no self sign-up (an administrator creates each user), so the demo does what
an administrator does on AWS: AdminCreateUser without an invitation e-mail, then a permanent
password (AdminSetUserPassword), so the first sign-in is not asked for a new one. Running the demo
again gives the same user a new password.
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass

DEMO_USER = "demo@example.com"
# The pool's policy (stacks/web_users.py): 12 characters or more, lower and upper case, digits, symbols.
PASSWORD_LENGTH = 16
_SYMBOLS = "-_.!#%+="  # symbols Cognito accepts that a shell and a URL leave alone


@dataclass(frozen=True)
class PageUser:
    username: str
    password: str


def new_password(length: int = PASSWORD_LENGTH) -> str:
    """A random password with every character class the pool's policy requires."""
    if length < 4:
        raise ValueError("a password needs one character of each of the four classes")
    classes = (string.ascii_lowercase, string.ascii_uppercase, string.digits, _SYMBOLS)
    characters = [secrets.choice(one_class) for one_class in classes]
    everything = "".join(classes)
    characters += [secrets.choice(everything) for _ in range(length - len(characters))]
    secrets.SystemRandom().shuffle(characters)
    return "".join(characters)


def ensure_page_user(cognito_idp, *, user_pool_id: str, username: str = DEMO_USER) -> PageUser:
    """The user `username` in the pool, created when missing, with a fresh permanent password."""
    try:
        cognito_idp.admin_create_user(
            UserPoolId=user_pool_id,
            Username=username,
            MessageAction="SUPPRESS",  # no invitation e-mail: the demo prints the password instead
            UserAttributes=[{"Name": "email", "Value": username}, {"Name": "email_verified", "Value": "true"}],
        )
    except cognito_idp.exceptions.UsernameExistsException:
        pass  # an earlier demo created it: only its password changes
    password = new_password()
    cognito_idp.admin_set_user_password(UserPoolId=user_pool_id, Username=username, Password=password, Permanent=True)
    return PageUser(username=username, password=password)
