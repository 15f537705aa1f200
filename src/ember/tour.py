"""A guided tour of ember: the autograd tutorials' examples, run with ``import ember as torch``.

Run it with ``python -m ember.tour`` (or ``make demo``). Each example prints the code it runs
and then what that code printed; the output is the same as the tutorials show for PyTorch.
"""

from __future__ import annotations

import contextlib
import io
import textwrap

EXAMPLES: list[tuple[str, str]] = [
    (
        "backward() on a scalar: f(x) = a*x**2 + b*x + c at x = 0",
        """
        import numpy as np
        import ember as torch

        x = torch.tensor(0.0, requires_grad=True)
        a = torch.tensor(1.0)
        b = torch.tensor(-2.0)
        c = torch.tensor(1.0)
        y = a*torch.pow(x,2) + b*x + c

        y.backward()
        dy_dx = x.grad
        print(dy_dx)
        """,
    ),
    (
        "backward() on a non-scalar needs a `gradient` of the same shape",
        """
        import numpy as np
        import ember as torch

        x = torch.tensor([[0.0,0.0],[1.0,2.0]], requires_grad=True)
        a = torch.tensor(1.0)
        b = torch.tensor(-2.0)
        c = torch.tensor(1.0)
        y = a*torch.pow(x,2) + b*x + c

        gradient = torch.tensor([[1.0,1.0],[1.0,1.0]])

        print("x:\\n",x)
        print("y:\\n",y)
        y.backward(gradient = gradient)
        x_grad = x.grad
        print("x_grad:\\n",x_grad)
        """,
    ),
    (
        "the same, as the backward of the scalar sum(y * gradient)",
        """
        import numpy as np
        import ember as torch

        x = torch.tensor([[0.0,0.0],[1.0,2.0]], requires_grad=True)
        a = torch.tensor(1.0)
        b = torch.tensor(-2.0)
        c = torch.tensor(1.0)
        y = a*torch.pow(x,2) + b*x + c

        gradient = torch.tensor([[1.0,1.0],[1.0,1.0]])
        z = torch.sum(y*gradient)

        print("x:",x)
        print("y:",y)
        z.backward()
        x_grad = x.grad
        print("x_grad:\\n",x_grad)
        """,
    ),
    (
        "autograd.grad with create_graph=True gives a second derivative",
        """
        import numpy as np
        import ember as torch

        x = torch.tensor(0.0, requires_grad=True)
        a = torch.tensor(1.0)
        b = torch.tensor(-2.0)
        c = torch.tensor(1.0)
        y = a*torch.pow(x,2) + b*x + c

        # create_graph=True records the backward pass, so it can be differentiated again
        dy_dx = torch.autograd.grad(y,x,create_graph=True)[0]
        print(dy_dx.data)

        dy2_dx2 = torch.autograd.grad(dy_dx,x)[0]
        print(dy2_dx2.data)
        """,
    ),
    (
        "autograd.grad with several inputs and several outputs (their gradients add up)",
        """
        import numpy as np
        import ember as torch

        x1 = torch.tensor(1.0, requires_grad=True)
        x2 = torch.tensor(2.0, requires_grad=True)

        y1 = x1*x2
        y2 = x1+x2

        (dy1_dx1,dy1_dx2) = torch.autograd.grad(outputs=y1,inputs = [x1,x2],retain_graph = True)
        print(dy1_dx1,dy1_dx2)

        (dy12_dx1,dy12_dx2) = torch.autograd.grad(outputs=[y1,y2],inputs = [x1,x2])
        print(dy12_dx1,dy12_dx2)
        """,
    ),
    (
        "minimising f with an optimizer: optim.SGD",
        """
        import numpy as np
        import ember as torch

        x = torch.tensor(0.0, requires_grad=True)
        a = torch.tensor(1.0)
        b = torch.tensor(-2.0)
        c = torch.tensor(1.0)

        optimizer = torch.optim.SGD(params=[x],lr = 0.01)

        def f(x):
            result = a*torch.pow(x,2) + b*x + c
            return(result)

        for i in range(500):
            optimizer.zero_grad()
            y = f(x)
            y.backward()
            optimizer.step()

        print("y=",f(x).data,";","x=",x.data)
        """,
    ),
    (
        "out = mean(3 * (x + 2)**2): d(out)/dx = 3/2 * (x + 2)",
        """
        import ember as torch
        x = torch.ones(2, 2, requires_grad=True)
        y = x + 2
        z = y * y * 3
        out = z.mean()
        out.backward()
        print(x.grad)
        """,
    ),
    (
        "z.backward() and y.backward(ones) give the same gradient",
        """
        import ember as torch
        x = torch.arange(0,3, requires_grad=True, dtype=torch.float)
        y = x**2 + x*2
        z = y.sum()
        z.backward()
        print(x.grad)

        x = torch.arange(0,3, requires_grad=True, dtype=torch.float)
        y = x**2 + x*2
        z = y.sum()
        y.backward(torch.tensor([1.,1.,1.]))
        print(x.grad)
        """,
    ),
    (
        "index assignment joins the graph (CopySlices); a Jacobian by repeated backward",
        """
        import copy
        import ember as torch
        x = torch.tensor([[3., 4.]], dtype=torch.float, requires_grad=True)
        y = torch.zeros(1,2)
        y[0,0] = x[0,0] ** 2 + x[0, 1]
        y[0,1] = x[0,1] ** 3 + x[0, 0]
        out = 2 * y
        out.backward(torch.tensor([[1.,1.]]), retain_graph=True)
        print(x.grad)

        x.grad.zero_()
        out.backward(torch.tensor([[1.,0.]]), retain_graph=True)
        g1 = copy.deepcopy(x.grad)
        x.grad.zero_()
        out.backward(torch.tensor([[0.,1.]]), retain_graph=True)
        g2 = copy.deepcopy(x.grad)
        print(torch.cat((g1, g2), 0))
        """,
    ),
    (
        "y = 2 * dot(x, x): gradients accumulate until grad.zero_()",
        """
        import ember as torch
        x = torch.arange(4.0)
        print(x)
        x.requires_grad_(True)
        print(x.grad)
        y = 2*torch.dot(x,x)
        print(y)
        y.backward()
        print(x.grad)
        print(x.grad==4*x)

        x.grad.zero_()
        y = x.sum()
        y.backward()
        print(x.grad)

        x.grad.zero_()
        y = x*x
        y.sum().backward()
        print(x.grad)
        """,
    ),
    (
        "detach() treats a value as a constant",
        """
        import ember as torch
        x = torch.arange(4.0, requires_grad=True)
        y = x*x
        u = y.detach()
        z = u*x
        z.sum().backward()
        print(x.grad==u)

        x.grad.zero_()
        y.sum().backward()
        print(x.grad==2*x)
        print(x.grad)
        """,
    ),
    (
        "Python control flow: the graph is whatever ran (d = k * a, so a.grad == d / a)",
        """
        import ember as torch
        def f(a):
            b = a*2
            while b.norm()<1000:
                b = b*2
            if b.sum()>0:
                c = b
            else:
                c = 100*b
            return c

        a = torch.randn(size=(), requires_grad=True)
        d = f(a)
        d.backward()
        print(a.grad == d / a)
        """,
    ),
]


def run_example(code: str) -> str:
    """Run one example's code and return what it printed."""
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        exec(compile(textwrap.dedent(code), "<tour>", "exec"), {"__name__": "__tour__"})
    return buffer.getvalue()


def main() -> None:
    print("ember tour: PyTorch autograd tutorials, run with `import ember as torch`\n")
    for number, (title, code) in enumerate(EXAMPLES, 1):
        print(f"=== {number}. {title} ===")
        print(textwrap.indent(textwrap.dedent(code).strip("\n"), "    "))
        print("--- output ---")
        print(run_example(code), end="")
        print()


if __name__ == "__main__":
    main()
