// The part of madge's API the layer test uses (madge ships no type declarations).
declare module 'madge' {
  interface MadgeResult {
    /** file -> the files it imports (paths relative to `baseDir`). */
    obj(): Record<string, string[]>;
    circular(): string[][];
    warnings(): { skipped: string[] };
  }
  interface MadgeOptions {
    baseDir?: string;
    fileExtensions?: string[];
    tsConfig?: string;
    detectiveOptions?: Record<string, Record<string, unknown>>;
  }
  export default function madge(paths: string | string[], options?: MadgeOptions): Promise<MadgeResult>;
}
