// Minimal typings for the Observable packages the site uses (they ship none).
declare module '@observablehq/runtime' {
  export interface Observer {
    pending?(): void;
    fulfilled?(value: unknown, name?: string | null): void;
    rejected?(error: unknown, name?: string | null): void;
  }
  export interface Variable {
    define(name: string | null, inputs: readonly string[], definition: (...args: never[]) => unknown): Variable;
    delete(): void;
  }
  export interface Module {
    variable(observer?: Observer | boolean, options?: { shadow?: Record<string, () => unknown> }): Variable;
    define(name: string | null, inputs: readonly string[], definition: (...args: never[]) => unknown): Variable;
    value(name: string): Promise<unknown>;
  }
  export class Runtime {
    constructor(builtins?: Record<string, () => unknown>, global?: (name: string) => unknown);
    module(): Module;
    dispose(): void;
  }
  export class RuntimeError extends Error {}
}

declare module '@observablehq/inspector' {
  export class Inspector {
    constructor(node: Element);
    pending(): void;
    fulfilled(value: unknown, name?: string | null): void;
    rejected(error: unknown, name?: string | null): void;
  }
}

declare module '@observablehq/inputs' {
  export interface InputElement<T> extends HTMLElement {
    value: T;
  }
  export interface RangeOptions {
    label?: string | Node;
    value?: number;
    step?: number;
    format?: (x: number) => string;
    disabled?: boolean;
    width?: number;
  }
  export function range(extent: [number, number], options?: RangeOptions): InputElement<number>;
  export function select<T>(data: readonly T[], options?: { label?: string | Node; value?: T; format?: (x: T) => string; disabled?: boolean }): InputElement<T>;
  export function radio<T>(data: readonly T[], options?: { label?: string | Node; value?: T; format?: (x: T) => string }): InputElement<T>;
  export function toggle(options?: { label?: string | Node; value?: boolean }): InputElement<boolean>;
  export function button(content: string, options?: { label?: string | Node; reduce?: (value: unknown) => unknown; value?: unknown }): InputElement<unknown>;
  export function table(data: readonly object[], options?: Record<string, unknown>): InputElement<unknown>;
}
