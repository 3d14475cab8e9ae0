// Mocha's spec-file collector has no published types; this is its signature in mocha 11.
declare module 'mocha/lib/cli/lookup-files' {
  function lookupFiles(
    filepath: string,
    extensions?: string[],
    recursive?: boolean,
  ): string | string[];
  export = lookupFiles;
}
