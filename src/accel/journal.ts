/**
 * An undo journal: each step of an operation records how to undo itself; on failure the steps are
 * undone newest first, so a failed `accel enable` leaves the kernel as it found it.
 */

/** One recorded undo action. */
interface UndoStep {
  readonly what: string;
  readonly undo: () => void;
}

/** Records undo actions and runs them in reverse order on rollback. */
export class UndoJournal {
  readonly #steps: UndoStep[] = [];

  /** Records how to undo a step that just succeeded. */
  record(what: string, undo: () => void): void {
    this.#steps.push({ what, undo });
  }

  /** Forgets every step (the operation succeeded). */
  commit(): void {
    this.#steps.length = 0;
  }

  /**
   * Undoes every recorded step, newest first. An undo that fails does not stop the others; the
   * failures come back as messages (`what: error`).
   */
  rollback(): string[] {
    const failures: string[] = [];
    while (this.#steps.length > 0) {
      const step = this.#steps.pop();
      if (!step) break;
      try {
        step.undo();
      } catch (err) {
        failures.push(`${step.what}: ${(err as Error).message}`);
      }
    }
    return failures;
  }
}
