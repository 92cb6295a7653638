// The class picker's filter: by number ("417") or by name substring, names that start with the query first.

export interface ClassMatch { name: string; index: number }

/** At most `limit` classes matching the query, plus how many matched in all. */
export function filterClasses(classes: readonly string[], query: string, limit: number): { shown: ClassMatch[]; total: number } {
  const q = query.trim().toLowerCase();
  if (!q) return { shown: classes.slice(0, limit).map((name, index) => ({ name, index })), total: classes.length };
  const byNumber = /^\d+$/.test(q) ? Number(q) : -1;
  const starts: ClassMatch[] = [];
  const contains: ClassMatch[] = [];
  for (let index = 0; index < classes.length; index++) {
    const name = classes[index];
    const lower = name.toLowerCase();
    if (index === byNumber || lower.startsWith(q)) starts.push({ name, index });
    else if (lower.includes(q)) contains.push({ name, index });
  }
  const all = starts.concat(contains);
  return { shown: all.slice(0, limit), total: all.length };
}
