"""Keys the local stack generates on first start (never committed): the local identity
provider's JWT signing key (with its JWKS) and the sandbox payment provider's signing key.

Tests use the same functions with a temporary directory.
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

LOCAL_ISSUER = "parkcharge-local"
LOCAL_AUDIENCE = "parkcharge-local-client"
JWT_KID = "parkcharge-local-1"


@dataclass(frozen=True)
class LocalKeys:
    directory: Path

    @property
    def jwt_private(self) -> Path:
        return self.directory / "jwt-signing.pem"

    @property
    def jwks(self) -> Path:
        return self.directory / "jwks.json"

    @property
    def pay_private(self) -> Path:
        return self.directory / "sandbox-pay.pem"

    @property
    def pay_public(self) -> Path:
        return self.directory / "sandbox-pay.pub.pem"


def _new_rsa_pem() -> tuple[bytes, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public


def ensure_keys(directory: str | Path) -> LocalKeys:
    """Create the key files in `directory` unless they exist already (idempotent)."""
    keys = LocalKeys(Path(directory))
    keys.directory.mkdir(parents=True, exist_ok=True)
    if not keys.jwt_private.exists() or not keys.jwks.exists():
        private, _public = _new_rsa_pem()
        keys.jwt_private.write_bytes(private)
        keys.jwt_private.chmod(0o600)
        loaded = serialization.load_pem_private_key(private, password=None)
        jwk: dict[str, Any] = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(loaded.public_key()))  # type: ignore[arg-type]
        jwk.update({"kid": JWT_KID, "alg": "RS256", "use": "sig"})
        keys.jwks.write_text(json.dumps({"keys": [jwk]}, indent=2))
    if not keys.pay_private.exists() or not keys.pay_public.exists():
        private, public = _new_rsa_pem()
        keys.pay_private.write_bytes(private)
        keys.pay_private.chmod(0o600)
        keys.pay_public.write_bytes(public)
    return keys


def mint_token(
    keys: LocalKeys,
    sub: str,
    groups: list[str],
    operator_id: str | None = None,
    ttl_seconds: int = 12 * 3600,
    now: int | None = None,
) -> str:
    """A token shaped like a Cognito ID token: sub, cognito:groups, custom:operator_id."""
    issued = int(time.time()) if now is None else now
    claims: dict[str, Any] = {
        "sub": sub,
        "iss": LOCAL_ISSUER,
        "aud": LOCAL_AUDIENCE,
        "token_use": "id",
        "iat": issued,
        "exp": issued + ttl_seconds,
        "jti": uuid.uuid4().hex,
        "cognito:groups": groups,
    }
    if operator_id:
        claims["custom:operator_id"] = operator_id
    return jwt.encode(claims, keys.jwt_private.read_bytes(), algorithm="RS256", headers={"kid": JWT_KID})


# The local fakes of WeChat Pay and Alipay and the merchant account the demo lot names: the
# identities are made up; the keys are generated here (a merchant key, a platform key and an APIv3
# key for WeChat Pay; an app key and an "Alipay" key for Alipay).
WECHAT_MCHID = "1900000109"
WECHAT_APPID = "wx00000000local001"
WECHAT_MERCHANT_SERIAL = "3775B6A45ACD588826D15E583A95F5DD00000001"
WECHAT_PUBLIC_KEY_ID = "PUB_KEY_ID_0119000001092026120100000001"
ALIPAY_APP_ID = "2021000000000001"
ALIPAY_SELLER_ID = "2088000000000001"


@dataclass(frozen=True)
class ProviderKeys:
    directory: Path

    @property
    def wechat(self) -> Path:
        return self.directory / "wechat"

    @property
    def alipay(self) -> Path:
        return self.directory / "alipay"


def _write_pair(private_path: Path, public_path: Path) -> None:
    private, public = _new_rsa_pem()
    private_path.write_bytes(private)
    private_path.chmod(0o600)
    public_path.write_bytes(public)


def ensure_provider_keys(directory: str | Path) -> ProviderKeys:
    """wechat/{merchant,platform}{.pem,.pub.pem}, wechat/apiv3.key and alipay/{app,alipay}{.pem,
    .pub.pem} under `directory`, unless they exist already (idempotent)."""
    keys = ProviderKeys(Path(directory))
    for name in ("wechat", "alipay"):
        (keys.directory / name).mkdir(parents=True, exist_ok=True)
    for folder, stem in (
        (keys.wechat, "merchant"),
        (keys.wechat, "platform"),
        (keys.alipay, "app"),
        (keys.alipay, "alipay"),
    ):
        if not (folder / f"{stem}.pem").exists() or not (folder / f"{stem}.pub.pem").exists():
            _write_pair(folder / f"{stem}.pem", folder / f"{stem}.pub.pem")
    apiv3 = keys.wechat / "apiv3.key"
    if not apiv3.exists():
        apiv3.write_text(secrets.token_hex(16))  # 32 characters: the APIv3 key is an AES-256 key's text
        apiv3.chmod(0o600)
    return keys
