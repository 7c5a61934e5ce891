/** A spinner on stderr while the API server answers, only for a person at a terminal (never in pipes or CI logs). */
import yoctoSpinner from 'yocto-spinner';

export async function withProgress<T>(text: string, work: () => Promise<T>): Promise<T> {
  if (!process.stderr.isTTY) return work();
  const spinner = yoctoSpinner({ text, stream: process.stderr }).start();
  try {
    return await work();
  } finally {
    spinner.stop();
  }
}
