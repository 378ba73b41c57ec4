/**
 * An htpasswd file for Distribution's basic auth, which accepts bcrypt entries
 * only. Node has no bcrypt and `openssl passwd` cannot make one, but every
 * Debian system has perl-base and libcrypt1 (libxcrypt), whose crypt(3) does
 * bcrypt: no extra package needed.
 */
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { run } from './exec.js';

/** bcrypt's base64 alphabet (not RFC 4648's). */
const BCRYPT_ALPHABET = './ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
/** Cost 4 is the minimum: the hash protects nothing, and the registry checks it on every request. */
const BCRYPT_COST = '04';
const BCRYPT_HASH = /^\$2b\$04\$[./A-Za-z0-9]{53}$/;
const PERL_CRYPT = 'print crypt($ARGV[0], $ARGV[1])';

/** A 22-character bcrypt salt; the last character carries only 2 significant bits. */
function bcryptSalt(): string {
  const bytes = randomBytes(22);
  const chars = Array.from(bytes.subarray(0, 21), (b) => BCRYPT_ALPHABET.charAt(b % 64));
  chars.push('.Oeu'.charAt((bytes[21] ?? 0) % 4));
  return chars.join('');
}

/** bcrypt hash of `password`, verified to be one (a crypt(3) without bcrypt returns something else). */
export async function bcryptHash(password: string): Promise<string> {
  const hash = await run('perl', ['-e', PERL_CRYPT, password, `$2b$${BCRYPT_COST}$${bcryptSalt()}`]);
  if (!BCRYPT_HASH.test(hash)) {
    throw new Error(`perl crypt(3) did not produce a bcrypt hash (got ${JSON.stringify(hash.slice(0, 8))}…); libxcrypt is required`);
  }
  return hash;
}

/** Writes an htpasswd file with one `user:bcrypt` line. */
export async function writeHtpasswd(file: string, username: string, password: string): Promise<void> {
  await writeFile(file, `${username}:${await bcryptHash(password)}\n`);
}
