"""A toy evaluation loop: it runs the real bytecode of a small function,
one instruction at a time, with a Python list as the value stack."""

import dis
import operator


def perimeter(width, height):
    return 2 * (width + height)


SYMBOLS = {"+": operator.add, "-": operator.sub, "*": operator.mul}
# Before 3.11 each operator had its own opcode; 3.11 merged them: BINARY_OP.
OLD_OPCODES = {"BINARY_ADD": "+", "BINARY_SUBTRACT": "-",
               "BINARY_MULTIPLY": "*"}


def evaluate(func, *args):
    code = func.__code__
    local_vars = dict(zip(code.co_varnames, args))  # the frame's locals
    stack = []                                      # the frame's value stack
    for ins in dis.get_instructions(code):          # fetch an instruction...
        op = ins.opname                             # ...dispatch on its opcode
        if op in ("RESUME", "NOP"):
            pass                                    # bookkeeping only
        elif op.startswith("LOAD_FAST"):            # push local variable(s)
            names = ins.argval
            if not isinstance(names, tuple):
                names = (names,)
            stack.extend(local_vars[name] for name in names)
        elif op in ("LOAD_CONST", "LOAD_SMALL_INT"):  # push a constant
            stack.append(ins.argval)
        elif op == "BINARY_OP" or op in OLD_OPCODES:  # pop two, push one
            symbol = ins.argrepr if op == "BINARY_OP" else OLD_OPCODES[op]
            right = stack.pop()
            left = stack.pop()
            stack.append(SYMBOLS[symbol](left, right))
        elif op == "RETURN_VALUE":                  # pop the result, leave
            print(f"{op:<20} {'':<14} returns {stack[-1]!r}")
            return stack.pop()
        else:
            raise NotImplementedError(f"the toy loop does not know {op}")
        print(f"{op:<20} {ins.argrepr:<14} stack: {stack}")


result = evaluate(perimeter, 3, 4)
print("toy loop:", result, "| real call:", perimeter(3, 4))
