// JWTs made in the test with Node's crypto, as an application backend would
// make them: HS256 with a shared secret, RS256 and ES256 with key pairs
// generated per run, plus the forgeries herald must refuse (a wrong
// signature, "alg":"none", an RSA public key used as an HMAC secret).
import { createHmac, generateKeyPairSync, sign } from 'node:crypto';

const b64url = (buf) => Buffer.from(buf).toString('base64url');
const part = (obj) => b64url(JSON.stringify(obj));

export const now = () => Math.floor(Date.now() / 1000);

export class Keys {
  constructor() {
    this.secret = 'e2e-hmac-secret-' + Math.random().toString(36).slice(2);
    this.rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    this.ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    this.rsaPublicPem = this.rsa.publicKey.export({ type: 'spki', format: 'pem' });
    this.ecPublicPem = this.ec.publicKey.export({ type: 'spki', format: 'pem' });
  }

  /// A signed token; `alg` is HS256, RS256 or ES256.
  token(claims, alg = 'HS256', { secret } = {}) {
    const input = `${part({ alg, typ: 'JWT' })}.${part(claims)}`;
    let sig;
    if (alg === 'HS256') sig = createHmac('sha256', secret ?? this.secret).update(input).digest();
    else if (alg === 'RS256') sig = sign('sha256', Buffer.from(input), this.rsa.privateKey);
    else if (alg === 'ES256')
      sig = sign('sha256', Buffer.from(input), { key: this.ec.privateKey, dsaEncoding: 'ieee-p1363' });
    else throw new Error(`no signer for ${alg}`);
    return `${input}.${b64url(sig)}`;
  }

  /// Unsigned: {"alg":"none"} and an empty signature.
  static none(claims) {
    return `${part({ alg: 'none', typ: 'JWT' })}.${part(claims)}.`;
  }

  /// A token whose last signature byte is flipped.
  forged(claims, alg = 'HS256') {
    const t = this.token(claims, alg);
    const [h, p, s] = t.split('.');
    const sig = Buffer.from(s, 'base64url');
    sig[sig.length - 1] ^= 1;
    return `${h}.${p}.${b64url(sig)}`;
  }

  /// The classic algorithm confusion: HS256 keyed with the RSA public key
  /// the server holds, which a verifier that lets the token pick the
  /// algorithm would accept.
  confused(claims) {
    return this.token(claims, 'HS256', { secret: this.rsaPublicPem });
  }
}
