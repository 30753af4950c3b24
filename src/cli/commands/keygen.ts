/** `ingot keygen`: a new ed25519 key pair in ostree's key-file format. */
import type { Command } from 'commander';
import { generateKeyPair, writeKeyPair } from '../../repo/sign.js';
import { action } from '../util.js';

export function register(program: Command): void {
  program
    .command('keygen')
    .description('make an ed25519 key pair: PREFIX.secret (base64 seed+public key) and PREFIX.pub (base64 public key)')
    .option('--output <prefix>', 'path prefix of the two key files', 'ingot-ed25519')
    .action(
      action((opts: { output: string }) => {
        const r = writeKeyPair(opts.output, generateKeyPair());
        return {
          data: r,
          text: (d) => `secret key: ${d.secretFile}\npublic key: ${d.publicFile}\nkey id: ${d.keyId}`,
        };
      }),
    );
}
