const BLOCK_BITS = 16;
const WORDS = (1 << BLOCK_BITS) / 32;

/**
 * A set of positive 31-bit ids in bounded memory for dense ids: one 8 KiB bitmap per block of 65,536
 * ids, created on first use. A 5-million-row table with ids 1..5M needs 77 blocks (616 KiB) where a
 * Set<number> would take hundreds of megabytes. Scattered ids cost up to 8 KiB each, bounded by
 * 2^31 / 65,536 blocks.
 */
export class IdSet {
  private readonly blocks = new Map<number, Uint32Array>();
  // Ids come mostly in runs, so the block used last is kept apart from the map lookup.
  private lastKey = -1;
  private lastBlock: Uint32Array | undefined;
  size = 0;

  private block(key: number): Uint32Array | undefined {
    if (key === this.lastKey) return this.lastBlock;
    const block = this.blocks.get(key);
    if (block) {
      this.lastKey = key;
      this.lastBlock = block;
    }
    return block;
  }

  has(id: number): boolean {
    const block = this.block(id >>> BLOCK_BITS);
    if (!block) return false;
    const bit = id & 0xffff;
    return (block[bit >>> 5] & (1 << (bit & 31))) !== 0;
  }

  /** Adds the id; answers false when it was already there. */
  add(id: number): boolean {
    const key = id >>> BLOCK_BITS;
    let block = this.block(key);
    if (!block) {
      this.blocks.set(key, (block = new Uint32Array(WORDS)));
      this.lastKey = key;
      this.lastBlock = block;
    }
    const bit = id & 0xffff;
    const mask = 1 << (bit & 31);
    if (block[bit >>> 5] & mask) return false;
    block[bit >>> 5] |= mask;
    this.size++;
    return true;
  }
}
