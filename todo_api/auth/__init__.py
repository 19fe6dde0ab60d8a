"""Who is calling: Better Auth's bearer JWTs, verified and turned into a user id.

`jwt` verifies a token (HS256 with the shared secret, or Better Auth's published keys from `jwks`);
`bearer` reads the `Authorization` header of an HTTP request and refuses with 401, 403 or 503.
Nothing here knows about tasks: the rest of the service only ever sees a user id.
"""
