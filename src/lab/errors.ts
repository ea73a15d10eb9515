/**
 * Raised when a lab cannot be built, found or used: it exists already, is missing, or a
 * step failed. The message names the lab and the next step to take.
 */
export class LabError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "LabError";
  }
}
