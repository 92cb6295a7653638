// Things to undo when their owner goes away (event subscriptions, timers), disposed newest first.
export class Disposables {
  private items: (() => void)[] = [];

  add(dispose: () => void): () => void {
    this.items.push(dispose);
    return dispose;
  }

  dispose(): void {
    for (const f of this.items.splice(0).reverse()) f();
  }
}
