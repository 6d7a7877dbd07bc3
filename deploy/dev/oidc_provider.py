"""The dev and test OpenID Connect provider: PyPI's oidc-provider-mock, with PKCE enforced.

oidc-provider-mock (0.3.x) implements discovery, the authorization endpoint (a form: the user
types a subject, `sub`), the token endpoint (client_secret_basic, any client id and secret unless
registration is required), the JWKS (one RSA key, RS256, new at every start) and users with
claims (`PUT /users/<sub>` with a JSON object of claims, e.g. `preferred_username`). It does not
check PKCE; a provider that ignores the code_verifier would let a client with a broken PKCE pass,
so this wrapper adds RFC 7636 the way a strict provider has it: every authorization request must
carry an S256 `code_challenge`, and the token request must carry the matching `code_verifier`.

Run: python oidc_provider.py [the oidc-provider-mock CLI's options: --port, --host, --require-nonce,
--user-claims ...]; deploy/dev/oidc.sh does.
"""

from authlib.oauth2.rfc6749.errors import InvalidRequestError
from authlib.oauth2.rfc7636 import CodeChallenge
import authlib.integrations.flask_oauth2 as flask_oauth2
from oidc_provider_mock import _app
from oidc_provider_mock.__main__ import run

# code -> (challenge, method), recorded as the code is issued (the mock's codes have no field).
_challenges: dict[str, tuple[str, str]] = {}


class StrictCodeChallenge(CodeChallenge):
    """PKCE, required for every client, S256 only."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]
    DEFAULT_CODE_CHALLENGE_METHOD = "S256"

    def validate_code_challenge(self, grant, redirect_uri):
        data = grant.request.payload.data
        if not data.get("code_challenge"):
            raise InvalidRequestError("Missing 'code_challenge' (this provider requires PKCE)")
        if data.get("code_challenge_method") != "S256":
            raise InvalidRequestError("'code_challenge_method' must be S256")
        super().validate_code_challenge(grant, redirect_uri)

    def get_authorization_code_challenge(self, authorization_code):
        return _challenges.get(authorization_code.code, (None, None))[0]

    def get_authorization_code_challenge_method(self, authorization_code):
        return _challenges.get(authorization_code.code, (None, None))[1]


_save_code = _app.AuthorizationCodeGrant.save_authorization_code


def _save_code_with_challenge(self, code, request):
    _save_code(self, code, request)
    data = request.payload.data
    _challenges[code] = (data.get("code_challenge"), data.get("code_challenge_method"))


_app.AuthorizationCodeGrant.save_authorization_code = _save_code_with_challenge

_register_grant = flask_oauth2.AuthorizationServer.register_grant


def _register_with_pkce(self, grant_cls, extensions=None):
    if grant_cls is _app.AuthorizationCodeGrant:
        extensions = [*(extensions or []), StrictCodeChallenge(required=True)]
    return _register_grant(self, grant_cls, extensions)


flask_oauth2.AuthorizationServer.register_grant = _register_with_pkce

if __name__ == "__main__":
    run()
