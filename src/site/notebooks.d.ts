// A notebook file compiled by src/site/vite-notebooks.ts: `import nb from '../../notebooks/NAME.html?notebook'`.
declare module '*.html?notebook' {
  import type { CellDefinition, MountedNotebook } from './notebook_runtime.ts';
  const notebook: {
    title: string;
    /** The notebook file, relative to the project root. */
    file: string;
    cells: CellDefinition[];
    mount(root: Element): MountedNotebook;
  };
  export default notebook;
}
