/** A one-line progress indicator for an operation that takes a while. */
export interface Spinner {
  /** Replaces the text after the spinner (e.g. the state seen at the last poll). */
  update(text: string): void;
  /** Erases the line; the command prints its outcome afterwards. */
  stop(): void;
}

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/** A spinner that draws nothing: output is piped, or JSON was asked for. */
export const quietSpinner: Spinner = { update() {}, stop() {} };

/**
 * Draws on `stream` (standard error, so standard output stays clean for pipes) every 80 ms
 * until stopped. Only for terminals: the caller decides, since a pipe would fill with frames.
 */
export function terminalSpinner(stream: { write(chunk: string): unknown }, label: string): Spinner {
  let text = label;
  let frame = 0;
  let width = 0;
  const draw = () => {
    const line = `${FRAMES[frame++ % FRAMES.length]} ${text}`;
    stream.write(`\r${line.padEnd(width)}`);
    width = line.length;
  };
  draw();
  const timer = setInterval(draw, 80);
  // A forgotten spinner must not keep the process alive.
  timer.unref();
  return {
    update(next) {
      text = `${label}: ${next}`;
    },
    stop() {
      clearInterval(timer);
      stream.write(`\r${' '.repeat(width)}\r`);
    },
  };
}
