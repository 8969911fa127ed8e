// The part of jsdom the notebook compiler uses (jsdom ships no typings; @types/jsdom is not needed for this).
declare module 'jsdom' {
  export class JSDOM {
    constructor(html?: string);
    readonly window: { DOMParser: { new (): DOMParser } };
  }
}
