/**
 * Reading a new password for `shoal passwd`: at a terminal, typed without
 * echo (raw mode) and asked twice, the two compared; from a pipe or a file,
 * its first line, as scripts give it. Main thread of the `shoal` command.
 */
import type { ReadStream } from 'node:tty';

const ENTER = new Set(['\r', '\n']);
const BACKSPACE = new Set(['\x7f', '\b']);
const CTRL_C = '\x03';
const CTRL_D = '\x04';

/** The first line of `input` (without its line break). */
async function readFirstLine(input: NodeJS.ReadableStream): Promise<string> {
  let text = '';
  for await (const chunk of input) {
    text += typeof chunk === 'string' ? chunk : (chunk as Buffer).toString('utf8');
    if (text.includes('\n')) break;
  }
  return text.split(/\r?\n/, 1)[0] ?? '';
}

function isTerminal(input: NodeJS.ReadableStream): input is ReadStream {
  return (input as Partial<ReadStream>).isTTY === true && typeof (input as Partial<ReadStream>).setRawMode === 'function';
}

/** Writes `prompt`, then reads one line from the terminal in raw mode, echoing nothing; Backspace erases, Ctrl-C and Ctrl-D give up. */
function readHidden(input: ReadStream, output: NodeJS.WritableStream, prompt: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const wasRaw = input.isRaw;
    input.setRawMode(true);
    input.setEncoding('utf8');
    output.write(prompt);
    let typed: string[] = [];
    const done = (err: Error | undefined): void => {
      input.off('data', onData);
      input.setRawMode(wasRaw);
      input.pause();
      output.write('\n');
      if (err) reject(err);
      else resolve(typed.join(''));
    };
    const onData = (chunk: string): void => {
      for (const char of chunk) {
        if (ENTER.has(char)) return done(undefined);
        if (char === CTRL_C) return done(new Error('interrupted'));
        if (char === CTRL_D) return done(new Error('end of input before the password'));
        if (BACKSPACE.has(char)) typed = typed.slice(0, -1);
        else if (char >= ' ') typed.push(char);
      }
    };
    input.on('data', onData);
    input.resume();
  });
}

/**
 * The new password: at a terminal, typed twice without echo (prompts on
 * `output`), refused when the two differ; otherwise the first line of `input`.
 */
export async function readNewPassword(input: NodeJS.ReadableStream, output: NodeJS.WritableStream): Promise<string> {
  if (!isTerminal(input)) return readFirstLine(input);
  const password = await readHidden(input, output, 'Password: ');
  const again = await readHidden(input, output, 'Reenter password: ');
  if (password !== again) throw new Error('the passwords do not match');
  return password;
}
